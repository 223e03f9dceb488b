// A scan field (the Desk page, and counting at the desk in a stocktake): every scan answered at
// once, on screen and by a sound, the cursor kept in the scan field. Scans typed while an answer
// is on its way wait their turn, in order (a card, then its books; a shelf, then its books). The
// server renders the page; this only puts its answer in place: the form's data-region, and any
// part marked data-live. What the answer holds for the next scan (the reader's card, the shelf)
// comes back in the region's data, into the form's fields marked data-held.
(function () {
  "use strict";
  const scan = document.getElementById("scan");
  const field = document.getElementById("code");
  const region = scan.dataset.region;
  const held = scan.querySelectorAll("[data-held]");
  const recent = document.getElementById("recent");
  const queue = [];
  let busy = false;
  let audio = null;

  // Short tones made here (no sound files): a high beep for done, a low double one for no.
  const TONES = {
    ok: [[880, 0.12]],
    info: [[660, 0.08]],
    refused: [[330, 0.15], [0, 0.05], [220, 0.25]],
  };

  function play(tone) {
    const notes = TONES[tone];
    if (!notes) return;
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
      let at = audio.currentTime + 0.01;
      for (const [frequency, seconds] of notes) {
        if (frequency) {
          const oscillator = audio.createOscillator();
          const gain = audio.createGain();
          oscillator.type = tone === "refused" ? "square" : "sine";
          oscillator.frequency.value = frequency;
          gain.gain.setValueAtTime(0.15, at);
          gain.gain.exponentialRampToValueAtTime(0.001, at + seconds);
          oscillator.connect(gain).connect(audio.destination);
          oscillator.start(at);
          oscillator.stop(at + seconds);
        }
        at += seconds;
      }
    } catch (error) {
      // No sound device: the answer is on the screen all the same.
    }
  }

  function focusField() {
    const active = document.activeElement;
    if (active && active !== field && active.matches("input:not([type=hidden]), textarea, select")) return;
    field.focus();
  }

  function note(text, tone) {
    if (!text) return;
    const line = document.createElement("li");
    line.className = tone;
    line.textContent = new Date().toTimeString().slice(0, 8) + "  " + text;
    recent.prepend(line);
    while (recent.children.length > 15) recent.lastElementChild.remove();
  }

  function show(fresh, sound, page) {
    document.getElementById(region).replaceWith(fresh);
    for (const input of held) input.value = fresh.dataset[input.name] || "";
    for (const part of document.querySelectorAll("[data-live]")) {
      const now = page && page.getElementById(part.id);
      if (now) part.replaceWith(now);
    }
    const answer = fresh.querySelector(".answer");
    if (sound) {
      play(fresh.dataset.tone);
      if (answer) note(answer.querySelector("p") ? answer.querySelector("p").textContent.trim() : answer.textContent.trim(), fresh.dataset.tone);
    }
    field.focus();
  }

  async function load(url, options, sound) {
    try {
      const reply = await fetch(url, options);
      const page = new DOMParser().parseFromString(await reply.text(), "text/html");
      const fresh = page.getElementById(region);
      if (!fresh) {
        window.location.assign(reply.url); // signed out, or an old form: the page says why
        return;
      }
      show(fresh, sound, page);
    } catch (error) {
      const failed = document.createElement("div");
      failed.id = region;
      for (const input of held) failed.dataset[input.name] = input.value;
      failed.dataset.tone = "refused";
      failed.innerHTML = '<p class="answer refused" role="status"></p>';
      failed.querySelector("p").textContent = scan.dataset.offline;
      show(failed, true);
    }
  }

  function enqueue(job) {
    queue.push(job);
    if (!busy) next();
  }

  async function next() {
    const job = queue.shift();
    if (!job) {
      busy = false;
      return;
    }
    busy = true;
    await job();
    next();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("form[data-desk]")) return;
    event.preventDefault();
    if (form === scan) {
      const code = field.value.trim();
      field.value = "";
      if (!code) return;
      // The card is read when the scan's turn comes: the one an earlier scan may have opened.
      enqueue(() => {
        const data = new FormData(scan);
        data.set("code", code);
        return load(scan.action, { method: "POST", body: data }, true);
      });
    } else {
      const data = new FormData(form, event.submitter);
      enqueue(() => load(form.action, { method: "POST", body: data }, true));
    }
  });

  // Escape (or the Next reader button) starts afresh: the page as the form's data-escape has it.
  function startAfresh(event) {
    event.preventDefault();
    enqueue(() => load(scan.dataset.escape, {}, false));
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && scan.dataset.escape) startAfresh(event);
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("#next-reader")) {
      startAfresh(event);
      return;
    }
    if (!event.target.closest("input, textarea, select, button, a, label")) field.focus();
  });
  field.addEventListener("blur", () => setTimeout(focusField, 0));
})();

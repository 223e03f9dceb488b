"""Decoding scanner key events into codes, from real evdev.InputEvent sequences.

The sequences are those a USB HID barcode scanner produces through the kernel (EV_MSC/MSC_SCAN
with the HID usage, key down, SYN_REPORT, key up, SYN_REPORT). No physical /dev/input device
exists on the development machines or in CI (and no /dev/uinput to make one), so the events
are built here; reading an actual device node is what only a Raspberry Pi can run.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from evdev import InputEvent, ecodes

from hardware.scanner import (
    GARBLED,
    BadLayout,
    DeviceRule,
    ScanDecoder,
    from_settings,
    key_code,
    layout_hint,
    make_layout,
    verdict,
)
from hardware.standin import ReplayDevice, hid_events, interleave, key_events, press
from kiosk.config import KioskConfig

T0 = 1_732_440_000.0


def decode(decoder: ScanDecoder, events: list[InputEvent]) -> list[str]:
    """Every code the events complete, in order."""
    return [code for event in events if (code := decoder.feed(event)) is not None]


def ev(usec: int, type_: int, code: int, value: int) -> InputEvent:
    return InputEvent(1_732_440_000, usec, type_, code, value)


def test_the_exact_events_of_a_scanner_give_the_code_once_at_enter() -> None:
    # "A1" then Enter, written out as evtest shows a USB HID scanner: Shift around the capital.
    K, M, S = ecodes.EV_KEY, ecodes.EV_MSC, ecodes.EV_SYN
    events = [
        ev(0, M, ecodes.MSC_SCAN, 0x700E1), ev(0, K, ecodes.KEY_LEFTSHIFT, 1), ev(0, S, 0, 0),
        ev(400, M, ecodes.MSC_SCAN, 0x70004), ev(400, K, ecodes.KEY_A, 1), ev(400, S, 0, 0),
        ev(800, M, ecodes.MSC_SCAN, 0x70004), ev(800, K, ecodes.KEY_A, 0), ev(800, S, 0, 0),
        ev(900, M, ecodes.MSC_SCAN, 0x700E1), ev(900, K, ecodes.KEY_LEFTSHIFT, 0), ev(900, S, 0, 0),
        ev(1900, M, ecodes.MSC_SCAN, 0x7001E), ev(1900, K, ecodes.KEY_1, 1), ev(1900, S, 0, 0),
        ev(2300, M, ecodes.MSC_SCAN, 0x7001E), ev(2300, K, ecodes.KEY_1, 0), ev(2300, S, 0, 0),
        ev(3300, M, ecodes.MSC_SCAN, 0x70028), ev(3300, K, ecodes.KEY_ENTER, 1), ev(3300, S, 0, 0),
        ev(3700, M, ecodes.MSC_SCAN, 0x70028), ev(3700, K, ecodes.KEY_ENTER, 0), ev(3700, S, 0, 0),
    ]  # fmt: skip
    decoder = ScanDecoder()
    results = [decoder.feed(e) for e in events]
    enter_down = 19
    assert results[enter_down] == "A1"
    assert [r for i, r in enumerate(results) if i != enter_down] == [None] * (len(events) - 1)


@pytest.mark.parametrize("code", ["S0001", "100001", "B001", "h1", "REF1", "9787020002207"])
def test_codes_typed_by_a_us_scanner_come_out_as_printed(code: str) -> None:
    assert decode(ScanDecoder(), hid_events(code, T0)) == [code]


def test_both_shift_keys_make_capitals_and_shifted_signs() -> None:
    t = T0
    events = [
        *press(ecodes.KEY_RIGHTSHIFT, t),
        *key_events(ecodes.KEY_X, t + 0.001),
        *key_events(ecodes.KEY_2, t + 0.002),
        *press(ecodes.KEY_RIGHTSHIFT, t + 0.003, 0),
        *key_events(ecodes.KEY_X, t + 0.004),
        *key_events(ecodes.KEY_ENTER, t + 0.005),
    ]
    assert decode(ScanDecoder(), events) == ["X@x"]


def test_caps_lock_makes_letters_capital_and_shift_undoes_it_digits_unchanged() -> None:
    t = T0
    events = [
        *key_events(ecodes.KEY_CAPSLOCK, t),
        *key_events(ecodes.KEY_B, t + 0.002),
        *key_events(ecodes.KEY_7, t + 0.004),
        *press(ecodes.KEY_LEFTSHIFT, t + 0.006),
        *key_events(ecodes.KEY_B, t + 0.007),
        *press(ecodes.KEY_LEFTSHIFT, t + 0.008, 0),
        *key_events(ecodes.KEY_ENTER, t + 0.010),
        # Caps Lock pressed again: back to small letters for the next code
        *key_events(ecodes.KEY_CAPSLOCK, t + 1),
        *hid_events("b1", t + 1.002),
    ]
    assert decode(ScanDecoder(), events) == ["B7b", "b1"]


def test_autorepeat_of_a_held_key_adds_nothing() -> None:
    t = T0
    events = [
        *press(ecodes.KEY_4, t),
        *press(ecodes.KEY_4, t + 0.010, 2),
        *press(ecodes.KEY_4, t + 0.020, 2),
        *press(ecodes.KEY_4, t + 0.030, 2),
        *press(ecodes.KEY_4, t + 0.035, 0),
        *key_events(ecodes.KEY_2, t + 0.050),
        *key_events(ecodes.KEY_ENTER, t + 0.060),
    ]
    assert decode(ScanDecoder(), events) == ["42"]


def test_shift_held_long_enough_to_autorepeat_stays_held() -> None:
    """A scanner slow to let go of Shift sends its autorepeat: Shift is still down."""
    t = T0
    events = [
        *press(ecodes.KEY_LEFTSHIFT, t),
        *press(ecodes.KEY_LEFTSHIFT, t + 0.010, 2),
        *key_events(ecodes.KEY_B, t + 0.012),
        *press(ecodes.KEY_LEFTSHIFT, t + 0.014, 2),
        *key_events(ecodes.KEY_K, t + 0.016),
        *press(ecodes.KEY_LEFTSHIFT, t + 0.018, 0),
        *key_events(ecodes.KEY_7, t + 0.020),
        *key_events(ecodes.KEY_ENTER, t + 0.022),
    ]
    assert decode(ScanDecoder(), events) == ["BK7"]


def test_num_lock_and_scroll_lock_type_nothing() -> None:
    """Some scanners toggle Num Lock around keypad digits, or flash Scroll Lock: no character."""
    t = T0
    events = [
        *key_events(ecodes.KEY_NUMLOCK, t),
        *hid_events("4711", t + 0.002, keypad=True, terminator=None),
        *key_events(ecodes.KEY_SCROLLLOCK, t + 0.012),
        *key_events(ecodes.KEY_NUMLOCK, t + 0.014),
        *key_events(ecodes.KEY_KPENTER, t + 0.016),
    ]
    assert decode(ScanDecoder(), events) == ["4711"]


def test_keypad_digits_and_keypad_enter() -> None:
    events = hid_events("9787020002207", T0, keypad=True, terminator=ecodes.KEY_KPENTER)
    assert decode(ScanDecoder(), events) == ["9787020002207"]


def test_tab_ends_codes_too_several_in_a_row() -> None:
    events = hid_events("S1", T0, terminator=ecodes.KEY_TAB)
    events += hid_events("B001", T0 + 0.5, terminator=ecodes.KEY_TAB)
    assert decode(ScanDecoder(), events) == ["S1", "B001"]


def test_terminators_are_configurable() -> None:
    decoder = ScanDecoder(terminators=[ecodes.KEY_TAB])
    # Enter is no longer the end of a code; a key that types nothing spoils the code
    assert decode(decoder, hid_events("B1", T0, terminator=ecodes.KEY_ENTER)) == []
    assert decode(decoder, hid_events("B2", T0 + 0.004, terminator=ecodes.KEY_TAB)) == [
        f"B1{GARBLED}B2"
    ]


def test_a_stray_enter_gives_no_code() -> None:
    assert decode(ScanDecoder(), key_events(ecodes.KEY_ENTER, T0)) == []


def test_prefix_and_suffix_are_taken_off() -> None:
    decoder = ScanDecoder(prefix="LIB-", suffix="/")
    events = hid_events("LIB-S0001/", T0) + hid_events("B001", T0 + 1)
    assert decode(decoder, events) == ["S0001", "B001"]


def test_a_code_longer_than_the_maximum_is_dropped_and_the_next_one_read() -> None:
    decoder = ScanDecoder(max_length=8)
    events = hid_events("123456789", T0) + hid_events("12345678", T0 + 1)
    assert decode(decoder, events) == ["12345678"]
    assert decoder.drops["too_long"] == 1


def test_a_person_typing_on_a_keyboard_delivers_no_code() -> None:
    decoder = ScanDecoder()
    slow = hid_events("S0001", T0, gap=0.25)  # a quick child: four keys a second
    assert decode(decoder, slow) == []
    assert decoder.drops["timeout"] >= 1


def test_a_half_typed_code_does_not_stick_to_the_next_scan() -> None:
    stray = hid_events("xy", T0, terminator=None)
    scan = hid_events("B001", T0 + 3)
    assert decode(ScanDecoder(), stray + scan) == ["B001"]


def test_the_timeout_is_measured_on_the_event_timestamps_and_configurable() -> None:
    # keys 60 ms apart: too slow for a 50 ms timeout, fine for the default 100 ms
    events = hid_events("B0012", T0, gap=0.06)
    assert decode(ScanDecoder(timeout=0.05), events) == []
    assert decode(ScanDecoder(), events) == ["B0012"]


def test_two_scanners_interleaved_each_give_their_own_code() -> None:
    card = hid_events("S0001", T0, gap=0.003)
    book = hid_events("B001", T0 + 0.001, gap=0.003)
    decoders = {"card": ScanDecoder(), "book": ScanDecoder()}
    tagged = sorted(
        [("card", e) for e in card] + [("book", e) for e in book],
        key=lambda pair: pair[1].timestamp(),
    )
    codes = [(who, c) for who, e in tagged if (c := decoders[who].feed(e)) is not None]
    assert sorted(codes) == [("book", "B001"), ("card", "S0001")]
    # fed to one decoder, as if one device, the keys would mix: that is why each has its own
    assert decode(ScanDecoder(), interleave(card, book)) == ["SB0000011"]  # nobody's code


def french_scanner(digits: str, t: float, *, enter: bool = True) -> list[InputEvent]:
    """What a scanner left on an AZERTY layout sends for digits: Shift + the number row."""
    events: list[InputEvent] = []
    for i, d in enumerate(digits):
        at = t + i * 0.002
        events += press(ecodes.KEY_LEFTSHIFT, at)
        events += key_events(getattr(ecodes, f"KEY_{d}"), at + 0.0005, hold=0.0002)
        events += press(ecodes.KEY_LEFTSHIFT, at + 0.001, 0)
    return events + (key_events(ecodes.KEY_ENTER, t + len(digits) * 0.002) if enter else [])


def test_a_scanner_on_a_french_layout_reads_right_with_layout_fr_and_is_explained() -> None:
    events = french_scanner("100001", T0)
    assert decode(ScanDecoder(layout="fr"), events) == ["100001"]
    wrong = decode(ScanDecoder(layout="us"), events)
    assert wrong == ["!))))!"]
    hint = layout_hint(wrong[0], "us")
    assert hint is not None and 'layout = "fr"' in hint and "French" in hint
    assert layout_hint("100001", "us") is None
    assert layout_hint("S0001", "fr") is None


def test_french_layout_moves_letters() -> None:
    events = hid_events("qwm", T0)  # the keys a US keyboard labels q, w and ;/m
    assert decode(ScanDecoder(layout="fr"), events) == ["az,"]


def test_a_layout_table_can_be_changed_key_by_key() -> None:
    layout = make_layout("us", {"KEY_Q": "ñÑ"})
    assert decode(ScanDecoder(layout=layout), hid_events("qQ1", T0)) == ["ñÑ1"]
    with pytest.raises(BadLayout, match="unknown keyboard layout"):
        make_layout("klingon")
    with pytest.raises(BadLayout, match="not a key name"):
        key_code("ENTER")
    with pytest.raises(BadLayout, match="one character"):
        make_layout("us", {"KEY_Q": "abc"})


def test_ctrl_or_alt_with_a_key_spoils_the_code_rather_than_typing_a_letter() -> None:
    t = T0
    events = [
        *key_events(ecodes.KEY_B, t),
        *press(ecodes.KEY_LEFTCTRL, t + 0.001),
        *key_events(ecodes.KEY_C, t + 0.002),
        *press(ecodes.KEY_LEFTCTRL, t + 0.003, 0),
        *key_events(ecodes.KEY_ENTER, t + 0.004),
    ]
    assert decode(ScanDecoder(), events) == [f"b{GARBLED}"]


def test_decoder_settings_come_from_kiosk_toml() -> None:
    cfg = KioskConfig.model_validate(
        {
            "scanners": {
                "key_timeout_ms": 20,
                "terminators": ["KEY_TAB"],
                "prefix": "#",
                "device": [
                    {"match": "RFID", "role": "cards"},
                    {"match": "0c2e:0b61", "role": "books", "layout": "fr"},
                ],
            }
        }
    )
    rules, make = from_settings(cfg.scanners)
    assert rules == [DeviceRule("RFID", "cards"), DeviceRule("0c2e:0b61", "books", "fr")]
    card_reader, book_scanner = make(rules[0]), make(rules[1])
    assert decode(card_reader, hid_events("#S1", T0, terminator=ecodes.KEY_TAB)) == ["S1"]
    assert decode(card_reader, hid_events("S2", T0 + 1, gap=0.03)) == []  # 30 ms > 20 ms
    assert decode(book_scanner, french_scanner("42", T0, enter=False)) == []
    assert decode(book_scanner, key_events(ecodes.KEY_TAB, T0 + 0.005)) == ["42"]


# -- which devices are read ------------------------------------------------------------------
# Stand-in device objects: the capabilities are what the kernel reports for each kind.


def touchscreen(name: str = "ft5x06") -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        path="/dev/input/event0",
        info=SimpleNamespace(vendor=0, product=0),
        capabilities=lambda: {
            ecodes.EV_KEY: [ecodes.BTN_TOUCH],
            ecodes.EV_ABS: [(ecodes.ABS_MT_POSITION_X, None), (ecodes.ABS_MT_POSITION_Y, None)],
        },
    )


def test_without_settings_every_keyboard_like_node_is_read_but_not_the_touchscreen() -> None:
    keyboard_node = ReplayDevice("/dev/input/event3", name="Honeywell Scanner")
    consumer_node = ReplayDevice("/dev/input/event4", name="Honeywell Scanner", keyboard=False)
    try:
        used = verdict(keyboard_node, [])
        assert isinstance(used, DeviceRule) and used.role == "any"
        assert "no letter and digit keys" in str(verdict(consumer_node, []))
        assert verdict(touchscreen(), []) == "the touchscreen"
    finally:
        keyboard_node.close()
        consumer_node.close()


def test_devices_are_chosen_by_name_vendor_product_or_path_each_with_its_role() -> None:
    reader = ReplayDevice("/dev/input/event5", name="Sycreader RFID Technology", vendor=0xFFFF)
    scanner = ReplayDevice("/dev/input/event6", name="Honeywell Scanner")
    scanner_media = ReplayDevice("/dev/input/event7", name="Honeywell Scanner", keyboard=False)
    rules = [
        DeviceRule("rfid", "cards"),
        DeviceRule("0c2e:0b61", "books"),
        DeviceRule("/dev/input/event9", "any"),
    ]
    try:
        assert verdict(reader, rules) == rules[0]
        assert verdict(scanner, rules) == rules[1]
        assert "no letter and digit keys" in str(verdict(scanner_media, rules))
        other = ReplayDevice("/dev/input/event9", name="Other", keyboard=False)
        assert verdict(other, rules) == rules[2]  # a path named in kiosk.toml is always read
        other.close()
        keyboard = ReplayDevice("/dev/input/event8", name="Dell Keyboard", vendor=0x413C)
        assert verdict(keyboard, rules) == "not named under [[scanners.device]] in kiosk.toml"
        keyboard.close()
        # a touchscreen named in kiosk.toml is never read, even if it looks like a keyboard
        assert verdict(scanner, [], touchscreen="honeywell") == "the touchscreen"
    finally:
        for device in (reader, scanner, scanner_media):
            device.close()

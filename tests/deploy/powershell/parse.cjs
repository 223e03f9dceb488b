// Parses PowerShell files with tree-sitter's PowerShell grammar (WebAssembly, no pwsh needed);
// prints each place it cannot parse and exits 1 if there is one.
const fs = require("fs");
const path = require("path");
const { Parser, Language } = require("web-tree-sitter");

async function main() {
  await Parser.init();
  const grammar = path.join(
    path.dirname(require.resolve("tree-sitter-powershell/package.json")),
    "tree-sitter-powershell.wasm",
  );
  const parser = new Parser();
  parser.setLanguage(await Language.load(grammar));
  let bad = 0;
  for (const file of process.argv.slice(2)) {
    const tree = parser.parse(fs.readFileSync(file, "utf8"));
    const walk = (node) => {
      if (node.isError || node.isMissing) {
        bad++;
        const where = `${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
        const what = node.isMissing ? `missing ${node.type}` : "cannot parse";
        console.log(`${where}: ${what}: ${node.text.slice(0, 60).replace(/\s+/g, " ")}`);
        return;
      }
      for (const child of node.children) walk(child);
    };
    walk(tree.rootNode);
  }
  process.exit(bad ? 1 : 0);
}

main();

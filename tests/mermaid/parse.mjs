// Reads a JSON list of Mermaid diagrams on stdin; prints a JSON list with, for each, null when
// Mermaid's own parser accepts it, else the parser's first line of error.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const diagram of JSON.parse(input)) {
  try {
    await mermaid.parse(diagram);
    results.push(null);
  } catch (error) {
    results.push(String(error.message || error).split("\n")[0]);
  }
}
process.stdout.write(JSON.stringify(results));

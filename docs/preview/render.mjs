// node render.mjs REPORT.md PAGE.html: the report as a page styled like a GitHub comment, its
// Mermaid blocks drawn by Mermaid (loaded from node_modules, nothing from the network).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { marked } from "marked";

const [source, target] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const renderer = new marked.Renderer();
const code = renderer.code.bind(renderer);
renderer.code = (token) =>
  token.lang === "mermaid" ? `<pre class="mermaid">${token.text}</pre>` : code(token);
const body = marked.parse(readFileSync(source, "utf8"), { renderer });
const script = resolve(here, "node_modules/mermaid/dist/mermaid.min.js");
writeFileSync(
  target,
  `<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body { font: 14px -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 880px; margin: 16px auto; padding: 16px 24px; border: 1px solid #d0d7de;
       border-radius: 6px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; }
th { background: #f6f8fa; }
code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; font-size: 85%; }
pre.mermaid { background: none; }
</style></head><body>${body}
<script src="file://${script}"></script>
<script>mermaid.initialize({ startOnLoad: true, theme: "default" });</script>
</body></html>`,
);

// Copy the front-end packages installed by `npm ci` into static/vendor/ (git-ignored), where
// Django's staticfiles finds them. USWDS keeps its dist layout because its CSS refers to
// ../fonts and ../img relative to itself.
// axe-core is for the accessibility tests only: it goes to tests/e2e/assets/ (outside every
// static directory, so it is never served), which ignores itself in git.
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "static", "vendor");

const copies = [
  ["@uswds/uswds/dist/css", "uswds/css"],
  ["@uswds/uswds/dist/js", "uswds/js"],
  ["@uswds/uswds/dist/fonts", "uswds/fonts"],
  ["@uswds/uswds/dist/img", "uswds/img"],
  ["htmx.org/dist/htmx.min.js", "htmx/htmx.min.js"],
  ["mermaid/dist/mermaid.min.js", "mermaid/mermaid.min.js"],
];

rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of copies) {
  const source = join(modules, from);
  if (!existsSync(source)) {
    console.error(`build_assets: ${source} is missing; run "npm ci" first.`);
    process.exit(1);
  }
  const target = join(vendor, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(source, target, { recursive: true });
}
console.log(`build_assets: copied ${copies.length} items into ${vendor}`);

const testAssets = join(root, "tests", "e2e", "assets");
const axe = join(modules, "axe-core", "axe.min.js");
if (existsSync(axe)) {
  rmSync(testAssets, { recursive: true, force: true });
  mkdirSync(testAssets, { recursive: true });
  cpSync(axe, join(testAssets, "axe.min.js"));
  writeFileSync(join(testAssets, ".gitignore"), "# Built by `npm run build`; never committed.\n*\n");
  console.log(`build_assets: copied axe-core into ${testAssets}`);
} else {
  console.warn("build_assets: axe-core is missing (npm ci installs it); accessibility tests will skip.");
}

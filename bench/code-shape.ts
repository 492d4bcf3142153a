/**
 * The shape of the source tree, measured: the largest files and functions, those past the limits the
 * style guide sets (functions over 80 lines, files over 400), and import cycles between top-level folders
 * of src/. Prints a table and writes bench/results/code-shape.json.
 *
 *   npx tsx bench/code-shape.ts [--max-function 80] [--max-file 400]
 *
 * A function is any function declaration, method, accessor, constructor, arrow function or function
 * expression; its length counts the lines from its first to its last, nested functions included (so a
 * closure that holds the others is as long as all of them).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const ROOT = new URL("..", import.meta.url).pathname;
const SRC = join(ROOT, "src");
const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const MAX_FUNCTION = arg("--max-function", 80);
const MAX_FILE = arg("--max-file", 400);

interface Span {
  file: string;
  name: string;
  lines: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(source);
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(source).slice(0, 40)})`;
  return "(anonymous)";
}

const files: Span[] = [];
const functions: Span[] = [];
for (const path of sourceFiles(SRC)) {
  const text = readFileSync(path, "utf8");
  const file = relative(ROOT, path);
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  files.push({ file, name: file, lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0) });
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      functions.push({ file, name: nameOf(node, source), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

/** Import cycles between top-level folders of src/ (madge's module graph, collapsed to folders). */
function folderCycles(): string[][] {
  const json = execFileSync(
    join(ROOT, "node_modules/.bin/madge"),
    ["--json", "--extensions", "ts", "--ts-config", "tsconfig.json", "src"],
    { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  const graph = JSON.parse(json) as Record<string, string[]>;
  const folder = (module: string): string => module.split("/")[0]!.replace(/\.ts$/, "");
  const edges = new Map<string, Set<string>>();
  for (const [from, tos] of Object.entries(graph))
    for (const to of tos) {
      const [a, b] = [folder(from), folder(to)];
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
  // Tarjan's strongly connected components: each one of two or more folders is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) connect(v);
  return cycles;
}

const byLines = (a: Span, b: Span): number => b.lines - a.lines;
functions.sort(byLines);
files.sort(byLines);
const longFunctions = functions.filter((f) => f.lines > MAX_FUNCTION);
const longFiles = files.filter((f) => f.lines > MAX_FILE);
const cycles = folderCycles();

const report = {
  largestFunction: functions[0],
  largestFile: files[0],
  functionsOver: { limit: MAX_FUNCTION, count: longFunctions.length, items: longFunctions },
  filesOver: { limit: MAX_FILE, count: longFiles.length, items: longFiles },
  folderCycles: cycles,
};
console.log(
  `largest function: ${report.largestFunction?.name} (${report.largestFunction?.file}), ${report.largestFunction?.lines} lines`,
);
console.log(`largest file: ${report.largestFile?.file}, ${report.largestFile?.lines} lines`);
console.log(`functions over ${MAX_FUNCTION} lines: ${longFunctions.length}`);
for (const f of longFunctions) console.log(`  ${String(f.lines).padStart(4)}  ${f.file}  ${f.name}`);
console.log(`files over ${MAX_FILE} lines: ${longFiles.length}`);
for (const f of longFiles) console.log(`  ${String(f.lines).padStart(4)}  ${f.file}`);
console.log(
  `import cycles between folders of src/: ${cycles.length}${cycles.map((c) => ` [${c.join(" ↔ ")}]`).join("")}`,
);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/code-shape.json"), `${JSON.stringify(report, null, 2)}\n`);

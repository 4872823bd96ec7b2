// Rules about the sources themselves. Determinism: no file in src/ uses Math.random (every random
// choice draws from a seeded Rng, one stream per node). Found with the TypeScript parser, so a
// comment or a string that mentions Math.random is not a use, and Math["random"] or
// `const { random } = Math` are.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL(import.meta.url.includes("/dist/tests/") ? "../../../" : "../../", import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? tsFiles(p) : e.endsWith(".ts") ? [p] : [];
  });
}

const isMath = (e: ts.Expression): boolean =>
  (ts.isIdentifier(e) && e.text === "Math") || (ts.isPropertyAccessExpression(e) && e.name.text === "Math");

/** "line:col" of every use of Math.random in `source`. */
function mathRandomUses(source: string, file = "x.ts"): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (n: ts.Node) => { const p = sf.getLineAndCharacterOfPosition(n.getStart(sf)); found.push(`${p.line + 1}:${p.character + 1}`); };
  const visit = (n: ts.Node): void => {
    if (ts.isPropertyAccessExpression(n) && n.name.text === "random" && isMath(n.expression)) at(n);
    else if (ts.isElementAccessExpression(n) && isMath(n.expression) && ts.isStringLiteralLike(n.argumentExpression) && n.argumentExpression.text === "random") at(n);
    else if (ts.isVariableDeclaration(n) && n.initializer && isMath(n.initializer) && ts.isObjectBindingPattern(n.name)
      && n.name.elements.some((b) => ((b.propertyName ?? b.name) as ts.Identifier).text === "random")) at(n);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

test("the detector finds uses and ignores mentions (negative control)", () => {
  const src = [
    "// nothing reads Math.random here",
    "const s = \"Math.random\", re = /'/g;",
    "const a = Math.random();",
    "const b = globalThis.Math['random']();",
    "const { random } = Math;",
    "const c = Math.randomInt;",
  ].join("\n");
  assert.equal(mathRandomUses(src), ["3:11", "4:11", "5:7"]);
});

test("no file in src/ uses Math.random", () => {
  const files = tsFiles(join(root, "src"));
  assert.ok(files.length > 20, `only ${files.length} files found under ${join(root, "src")}`);
  const uses = files.flatMap((f) => mathRandomUses(readFileSync(f, "utf8"), f).map((p) => `${relative(root, f)}:${p}`));
  assert.equal(uses, [], `Math.random in ${uses.join(", ")}: draw from a seeded Rng (src/rng.ts) instead`);
});

test.run();

import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadEngine } from "../../src/wasm/loader.ts";

test("scale_f32 scales", async () => {
  const e = await loadEngine({ flavor: "simd", memoryMB: 1 });
  const b = e.arena.f32(5);
  b.view.set([1, 2, 3, 4, 5]);
  e.kernels.scale_f32(b.ptr, 5, 2);
  assert.equal(Array.from(b.view), [2, 4, 6, 8, 10]);
});
test.run();

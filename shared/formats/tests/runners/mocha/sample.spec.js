// The Mocha sample: pass, fail, pending, nested describe, and a test that passes on retry.
const assert = require("assert");
let flakyCalls = 0;

describe("outer", function () {
  describe("inner", function () {
    it("passes", function () { assert.ok(true); });
    it("fails", function () { assert.strictEqual(1, 2); });
  });
  it.skip("skipped", function () {});
  it("pending without a body");
  it("flaky then passes", function () {
    this.retries(1);
    flakyCalls += 1;
    assert.ok(flakyCalls > 1, "first attempt fails");
  });
});

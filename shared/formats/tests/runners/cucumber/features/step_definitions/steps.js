const { Given, When } = require("@cucumber/cucumber");
const assert = require("assert");

Given("a start", function () {});
When("it works", function () {});
When("it breaks", function () { assert.strictEqual(1, 2); });
When("it is pending", function () { return "pending"; });
When("it counts {int}", function (n) { assert.ok(n < 2, "too many"); });

// Two projects, so the same spec runs twice: each project's run is a test of its own.
module.exports = { testDir: ".", projects: [{ name: "alpha" }, { name: "beta" }] };

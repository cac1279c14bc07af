// A test file that cannot be loaded: Jest reports it with no assertion results.
require("./does-not-exist");

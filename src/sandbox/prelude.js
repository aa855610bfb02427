// Installed once in every new context, before any user code. Gives errors V8's stack shape:
// `Name: message`, then one `    at fn (file:line:col)` line per frame.
// `Error.prepareStackTrace` reads as `undefined`, as in V8, and a function the sandboxed code
// assigns to it is honoured with QuickJS's call sites.
(function (setPrepare) {
  'use strict';
  let userPrepare;
  const errorToString = Error.prototype.toString;
  const callToString = (error) => {
    try {
      return Reflect.apply(errorToString, error, []);
    } catch {
      return 'Error';
    }
  };
  const location = (site) => {
    const file = site.getFileName();
    const line = site.getLineNumber();
    if (file === undefined || file === null || site.isNative()) return '<anonymous>';
    return line > 0 ? `${file}:${line}:${site.getColumnNumber()}` : file;
  };
  const frame = (site) => {
    const name = site.getFunctionName();
    const where = location(site);
    if (!name || name === '<eval>') return where;
    return site.isConstructor() ? `new ${name} (${where})` : `${name} (${where})`;
  };
  function prepare(error, sites) {
    if (typeof userPrepare === 'function') return userPrepare(error, sites);
    let text = callToString(error);
    for (let i = 0; i < sites.length; i++) text += '\n    at ' + frame(sites[i]);
    return text;
  }
  setPrepare.call(Error, prepare);
  Object.defineProperty(Error, 'prepareStackTrace', {
    configurable: true,
    enumerable: false,
    get() { return userPrepare; },
    set(value) { userPrepare = value; },
  });
})

'use strict'
// `node --require isolated-quickjs/register app.js` (or `require('isolated-quickjs/register')` first
// thing): makes `isolated-vm` resolve to isolated-quickjs according to USE_QUICKJS, for require()
// and, through module.register(), for import and import() too. See lib/switch.js.
require('./lib/switch').install()

// `node --import isolated-quickjs/register app.mjs`: the same switch as register.js, loaded as an ES
// module so that it is in place before the entry point's own imports are resolved. See lib/switch.js.
import theSwitch from './lib/switch.js'

theSwitch.install()

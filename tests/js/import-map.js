// Node has no import map: this gives the tests the names the page's import map gives the components. NiceGUI names
// a declared dependency after its file (flowmon/web/widgets/lib/fm-patched.js is "fm-patched"); ECharts, which
// the tests do not draw with, is a stub. Used as `node --import ./tests/js/import-map.js --test ...` (make test).
import { register } from "node:module";

register("./resolve.js", import.meta.url);

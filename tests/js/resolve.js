// The module resolution hook behind import-map.js.
const LIB = new URL("../../flowmon/web/widgets/lib/", import.meta.url);
const STUBS = { "nicegui-echart": new URL("./stubs/echarts.js", import.meta.url) };

export async function resolve(specifier, context, next) {
  if (specifier in STUBS) return { url: STUBS[specifier].href, shortCircuit: true };
  if (/^fm-[\w-]+$/.test(specifier)) return { url: new URL(`${specifier}.js`, LIB).href, shortCircuit: true };
  return next(specifier, context);
}

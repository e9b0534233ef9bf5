// ESLint for flowmon's JavaScript (make lint): the browser components under flowmon/web and their tests.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: [".venv/", "node_modules/", "test-output/", "build/", "dist/"] },
  js.configs.recommended,
  {
    files: ["flowmon/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];

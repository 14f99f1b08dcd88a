// html-validate configuration for the pages the browser suite saves (e2e/artifacts/html).
// The suite imports this file; `npx html-validate artifacts/html` reads it too.
export default {
  extends: ['html-validate:recommended'],
  rules: {
    // A style rule about source files, not about the document: askama's `{% if %}` and
    // `{% for %}` tags leave lines of indentation behind in the rendered HTML, and trailing
    // whitespace means nothing to a browser or a screen reader.
    'no-trailing-whitespace': 'off',
  },
};

// ESLint flat config: `npm run lint`. typescript-eslint with type information (the project's tsconfig.json), import
// hygiene through eslint-plugin-import-x and the TypeScript resolver, and the layering rule that keeps Express at
// the service's edge.
import js from "@eslint/js";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import { importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

/** Folders of the service that must know nothing of HTTP frameworks (README: "Express only at the edge"). */
const HTTP_FREE_FOLDERS = ["service/config/**", "service/pipeline/**", "service/model/**"];

export default tseslint.config(
  { ignores: ["node_modules/**", "build/**", "dist/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  importX.flatConfigs.recommended,
  importX.flatConfigs.typescript,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "tsconfig.json" })],
    },
    rules: {
      // A promise nobody awaits loses its rejection: in a server that is an unhandled rejection at run time.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // An unused binding whose name starts with _ is deliberate (destructuring a field away, a required parameter).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // import-x skips type-only imports when it looks for cycles; __tests__/infra/import-cycles.test.ts counts them.
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "import-x/no-duplicates": "error",
      // `declare global { namespace Express { ... } }` is how Express's own types are augmented.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // The TypeScript compiler already checks that every imported name exists, with the real module resolution.
      "import-x/named": "off",
      "import-x/namespace": "off",
      "import-x/default": "off",
      "import-x/no-named-as-default-member": "off",
    },
  },
  {
    files: HTTP_FREE_FOLDERS,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "express", message: "config, pipeline and model know nothing of HTTP: Express stays in service/http." }],
          patterns: [{ group: ["express/*"], message: "config, pipeline and model know nothing of HTTP: Express stays in service/http." }],
        },
      ],
    },
  },
);

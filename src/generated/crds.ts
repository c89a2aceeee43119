// Generated from schemas/*.schema.json by `npm run generate`. Do not edit: change the schema and regenerate.

/** Each CRD's name and the digest of its spec (annotation forgejo.actions.io/schema-digest). */
export const CRD_SCHEMA_DIGESTS: Readonly<Record<string, string>> = {
  "runnerdeployments.forgejo.actions.io": "4e9908110ac10bc6",
  "actrunners.forgejo.actions.io": "148cbda60cb74fdf",
};

import packageJson from "../package.json" with { type: "json" };

/** The operator's version, from package.json. */
export const VERSION: string = packageJson.version;
export const USER_AGENT = `forgejo-arc/${VERSION}`;

// Container image references as container runtimes and Docker parse them (the distribution project's
// reference grammar): [registry[:port]/]path[:tag][@algorithm:hex]. Kubernetes stores any string as
// an image; a pod whose image does not parse waits in InvalidImageName until its deadline, and a
// docker:// label's image fails only when the runner starts its job. So they are checked up front.

/** Lowercase letters and digits, joined by ".", "_", "__" or dashes. */
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}";
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::${TAG})?(?:@${DIGEST})?$`);
const NAME_MAX = 255;

/** What is wrong with an image reference, as "… (e.g. …)", or undefined when a runtime can parse it. */
export function imageReferenceProblem(image: string): string | undefined {
  const match = REFERENCE.exec(image);
  if (match) {
    return match[1]!.length > NAME_MAX ? `is not an image reference: its name is longer than ${NAME_MAX} characters` : undefined;
  }
  if (/\s/.test(image)) return "is not an image reference: it contains white space";
  const name = image.split("@", 1)[0]!.replace(/:[^/]*$/, ""); // without digest and tag
  const [first, ...rest] = name.split("/");
  const path = rest.length > 0 && /[.:]|^localhost$/.test(first!) ? rest.join("/") : name; // without a registry
  if (path !== path.toLowerCase())
    return 'is not an image reference: repository names are lowercase (e.g. "code.example.com/ci/runner:12")';
  return 'is not an image reference [registry[:port]/]path[:tag][@sha256:digest] (e.g. "code.example.com/ci/runner:12")';
}

// wsecho's version, printed by --version and in the start line.

/** wsecho's version (semver). */
export const VERSION = "0.2.0";

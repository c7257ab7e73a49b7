/**
 * The release version, in one place: the CLI's --version, meridian_build_info and the admin
 * API's /status show it. package.json holds the same string; test/version.test.ts keeps the two
 * equal (a constant costs nothing at start and needs no package.json beside dist/ at run time).
 */
export const VERSION = '0.1.0';

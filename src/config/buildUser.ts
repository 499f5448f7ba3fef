/**
 * The identities builds and tree reading run as when portsync is root. Kept apart so that the
 * tree reader (src/config/readAs.ts) can refuse to share the build user's identity without
 * importing the build environment.
 */

/** The unprivileged build user (and group) of the chroot backend: `nobody`, as poudriere's PORTBUILD_USER. */
export const BUILD_UID = 65534;
export const BUILD_GID = 65534;

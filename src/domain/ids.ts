/** Ids are UUIDs (tasks get version 7, see store/ids.ts); any version is accepted as input. */

/** A UUID in its text form, unanchored, for patterns that contain one (page cursors). */
export const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

const UUID = new RegExp(`^${UUID_PATTERN}$`, 'i');

export const isUuid = (s: string): boolean => UUID.test(s);

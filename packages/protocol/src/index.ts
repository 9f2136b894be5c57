export * from './ns';
export * from './jid';
export * from './precis';
export * from './errors';
export * from './stanza';
export * from './xml/element';
export * from './xml/stream-parser';
export * from './xep/xep-0004-data-forms';

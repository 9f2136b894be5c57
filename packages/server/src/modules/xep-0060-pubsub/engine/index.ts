// The shared XEP-0060 engine, used by the pubsub service (../index.ts) and by PEP (../../xep-0163-pep), the
// one module allowed to import it. The surface is small: the engine (nodes, items, access, notifications),
// the iq handlers for the two pubsub namespaces, node discovery, and the data types.
export { PubSubEngine, type PubSubHost, type RosterEntry, type PublishResult } from './engine';
export { handlePubsub, handlePubsubOwner, type PubSubIqOptions } from './iq';
export { nodeInfo, nodeItems, rootItems, PUBSUB_FEATURES } from './disco';
export { defaultNodeConfig, pubsubError, type NodeConfig, type NodeRecord, type StoredItem } from './types';
export { itemElement } from './notify';
export { rosterReader } from './roster';

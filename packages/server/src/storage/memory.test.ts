import { runStorageContract } from './contract';
import { createMemoryStorage } from './memory';

runStorageContract('memory', createMemoryStorage);

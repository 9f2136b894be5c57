export { ConfigError, loadConfig, mergeDeep, type LoadConfigOptions } from './load';
export {
  checkDomainName,
  configKeys,
  configObjectSchema,
  configSchema,
  isNetwork,
  type Config,
  type ConfigKey,
  type DeepPartial,
} from './schema';

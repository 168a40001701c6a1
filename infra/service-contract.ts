/**
 * Everything infra/ and charts/ take from the service, in one place: the configuration schema the ConfigMap is
 * rendered and validated with, the HTTP contract (port name, probe and metrics paths, public paths), the gRPC
 * contract (port name, appProtocol, service names) and the metric
 * names the HPA and prometheus-adapter read. When the service moves these, only this file changes.
 */
export {
  CONFIG_SCHEMA,
  loadConfig,
  renderEnvironment,
  type Config,
  type ConfigOverrides,
} from "../service/config/schema";
export { GRPC_CONTRACT } from "../service/contract/grpc";
export { HTTP_CONTRACT } from "../service/contract/http";
export { METRIC_DEFINITIONS, METRIC_NAMES } from "../service/contract/metrics";

// Whether a Docker engine answers, so that suites needing one can skip with a clear message
// instead of failing on machines (and CI) that have only the Docker client.
import { getContainerRuntimeClient } from 'testcontainers';

let probe: Promise<boolean> | undefined;

export function dockerEngineReachable(): Promise<boolean> {
  probe ??= getContainerRuntimeClient().then(
    () => true,
    () => false,
  );
  return probe;
}

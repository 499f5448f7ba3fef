// Piscina's worker file: makes sure TypeScript loads in this thread, then exports the task.
import { register } from 'tsx/esm/api';
register();
const { default: buildPort } = await import('./worker.ts');
export default buildPort;

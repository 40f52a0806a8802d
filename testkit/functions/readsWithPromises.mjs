// Awaits a read through fs/promises (as the AWS SDK's credential chain does on a client's first call)
// and returns what it read: a callback runtime must wait for the read, not answer null meanwhile.
import { readFile } from 'node:fs/promises';

export const handler = async () => {
  const text = await readFile(new URL(import.meta.url), 'utf8');
  return { read: text.length > 0 };
};

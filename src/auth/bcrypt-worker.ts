// piscina task: one bcrypt comparison, off every event loop that serves clients (~110 ms at cost 11).
import bcrypt from 'bcryptjs';

export default function compare(task: { password: string; hash: string }): boolean {
  return bcrypt.compareSync(task.password, task.hash);
}

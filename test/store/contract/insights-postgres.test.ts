import t from 'tap';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { startPostgres } from '../../helpers/postgres.js';
import { insightsContract } from './insights.js';

const server = await startPostgres();
t.teardown(() => server.stop());

insightsContract(t, {
  name: 'postgres',
  leases: true,
  async fresh() {
    const url = await server.createDatabase();
    return { open: (opts) => openPostgresStore(url, opts) };
  },
});

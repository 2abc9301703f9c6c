using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 14, "a poisoned connection": a session whose statement failed must not hand the
/// next session a connection that is out of step with the server.</summary>
public class DbFailureTests
{
    static async Task<(Db Db, NpgsqlDataSource Source)> OneConnectionAsync()
    {
        // One pooled connection, so the next session certainly gets the one the failure touched.
        var csb = new NpgsqlConnectionStringBuilder(TestApp.Db.DataSource.ConnectionString) { MaxPoolSize = 1 };
        var source = DatabaseHost.BuildDataSource(csb.ConnectionString);
        return (new Db(source), source);
    }

    [Fact]
    public async Task A_statement_the_server_refuses_leaves_the_pooled_connection_usable()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (db, source) = await OneConnectionAsync();
        await using var _ = source;
        var claims = RequestClaims.ForClinic(clinic.Id, "db-failure-test", "admin");
        const string Insert = "insert into practitioners (clinic_id, name) values (@C, @N) returning id";
        var before = (await db.QueryOnceAsync<long>(claims, "select count(*) from practitioners where clinic_id = @C", new { C = clinic.Id }, default))[0];
        for (var i = 0; i < 12; i++)
        {
            // In a transaction and in a one-statement batch, with the statement both fresh and auto-prepared.
            var inTx = await Assert.ThrowsAsync<PostgresException>(() =>
                db.InTransactionAsync(claims, s => s.QuerySingleOrDefaultAsync<Guid>(Insert, new { C = clinic.Id, N = "a\0b" }), default));
            Assert.Equal(PostgresErrorCodes.CharacterNotInRepertoire, inTx.SqlState);
            var once = await Assert.ThrowsAsync<PostgresException>(() => db.QueryOnceAsync<Guid>(claims, Insert, new { C = clinic.Id, N = "a\0b" }, default));
            Assert.Equal(PostgresErrorCodes.CharacterNotInRepertoire, once.SqlState);

            // The statement that failed while being auto-prepared runs fine next time (it used to fail
            // with "Received unexpected backend message DataRow" on that connection from then on).
            var id = await db.InTransactionAsync(claims, s => s.QuerySingleOrDefaultAsync<Guid>(Insert, new { C = clinic.Id, N = "ok " + i }), default);
            Assert.NotEqual(Guid.Empty, id);
            Assert.Equal([before + i + 1], await db.QueryOnceAsync<long>(claims, "select count(*) from practitioners where clinic_id = @C", new { C = clinic.Id }, default));
        }
    }
}

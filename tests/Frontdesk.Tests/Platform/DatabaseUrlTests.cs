using Frontdesk.Platform;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>The connection URLs README's "Deploy on Supabase" tells an operator to set.</summary>
public class DatabaseUrlTests
{
    [Fact]
    public void A_transaction_pooler_url_keeps_its_login_and_turns_automatic_preparation_off()
    {
        var cs = DatabaseHost.ToConnectionString(
            "postgres://frontdesk_app.abcdefghijklmnop:p%2Fa%2Bss%3D@aws-0-eu-west-2.pooler.supabase.com:6543/postgres?sslmode=require&MaxAutoPrepare=0");
        var csb = new NpgsqlConnectionStringBuilder(cs);
        Assert.Equal("frontdesk_app.abcdefghijklmnop", csb.Username);
        Assert.Equal("p/a+ss=", csb.Password);
        Assert.Equal(6543, csb.Port);
        Assert.Equal(SslMode.Require, csb.SslMode);
        using var pooled = DatabaseHost.BuildDataSource(cs);
        Assert.Equal(0, new NpgsqlConnectionStringBuilder(pooled.ConnectionString).MaxAutoPrepare);
    }

    [Fact]
    public void A_direct_url_prepares_the_request_statements()
    {
        using var direct = DatabaseHost.BuildDataSource(DatabaseHost.ToConnectionString("postgresql://frontdesk_app:secret@db.example.supabase.co:5432/postgres"));
        var csb = new NpgsqlConnectionStringBuilder(direct.ConnectionString);
        Assert.Equal(256, csb.MaxAutoPrepare);
        Assert.True(csb.NoResetOnClose);
    }
}

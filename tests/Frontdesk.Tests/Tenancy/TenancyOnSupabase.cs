using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Tenancy;

// Every tenancy test again, on the Supabase-shaped cluster (issue 12): migrations applied by
// `db push` as the non-superuser postgres, Supabase's default privileges in place, frontdesk_app
// logging in over TCP with scram-sha-256. A new test in the base classes runs on both.

public sealed class CrossTenantTestsOnSupabase : CrossTenantTests
{
    public CrossTenantTestsOnSupabase() => TestApp.UseForThisTest(TestTarget.Supabase);
}

public sealed class RowLevelSecurityTestsOnSupabase : RowLevelSecurityTests
{
    public RowLevelSecurityTestsOnSupabase() => TestApp.UseForThisTest(TestTarget.Supabase);
}

public sealed class CrossTenantRouteTestsOnSupabase : CrossTenantRouteTests
{
    public CrossTenantRouteTestsOnSupabase() => TestApp.UseForThisTest(TestTarget.Supabase);
}

using Bogus;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>
/// The Permission service against an independent model of the rules: random trees, grants at every
/// level and roles made through real gRPC calls, then every (user, resource, level) checked.
/// </summary>
public sealed class PermissionMatrixTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private static readonly PermissionLevel[] Levels =
        [PermissionLevel.None, PermissionLevel.Read, PermissionLevel.Comment, PermissionLevel.Edit, PermissionLevel.Create, PermissionLevel.Owner];

    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    /// <summary>The rules, written again from the contract's words, independently of the SQL.</summary>
    private sealed class Model
    {
        public Dictionary<(ResourceType, string), (ResourceType, string)?> Parent { get; } = [];
        public Dictionary<(ResourceType, string), string> Workspace { get; } = [];
        public Dictionary<(ResourceType, string, string), PermissionLevel> Grants { get; } = [];
        public Dictionary<string, Dictionary<ResourceType, PermissionLevel>> RoleLevels { get; } = [];
        public HashSet<(string Role, string User)> Assignments { get; } = [];
        public Dictionary<string, string> RoleWorkspace { get; } = [];

        public PermissionLevel Effective(string user, (ResourceType Type, string Id) resource)
        {
            // An owner of the resource or of anything enclosing it is owner.
            for (var node = ((ResourceType, string)?)resource; node is { } n; node = Parent[n])
            {
                if (Grants.TryGetValue((n.Item1, n.Item2, user), out var level) && level == PermissionLevel.Owner)
                {
                    return PermissionLevel.Owner;
                }
            }

            // Otherwise the nearest grant decides.
            for (var node = ((ResourceType, string)?)resource; node is { } n; node = Parent[n])
            {
                if (Grants.TryGetValue((n.Item1, n.Item2, user), out var level))
                {
                    return level;
                }
            }

            var workspace = Workspace[resource];
            var fromRoles = Assignments.Where(a => a.User == user && RoleWorkspace[a.Role] == workspace)
                .Select(a => RoleLevels[a.Role].TryGetValue(resource.Type, out var l) ? l : PermissionLevel.Unspecified)
                .DefaultIfEmpty(PermissionLevel.Unspecified).Max();
            return fromRoles == PermissionLevel.Unspecified ? PermissionLevel.None : fromRoles;
        }
    }

    [Fact]
    public async Task EveryCheck_MatchesTheModel_AndNobodyReadsAnotherTenantsBase()
    {
        var faker = new Faker { Random = new Randomizer(5150) };
        var permissions = Host.Permissions();
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var users = new List<TestUser>();
        for (var i = 0; i < 10; i++)
        {
            // Verified once here: joining a workspace needs a verified e-mail address.
            users.Add(await Host.VerifyEmailAsync(await Host.RegisterAsync()));
        }

        var model = new Model();
        var resources = new List<(ResourceType Type, string Id)>();
        var ownerOf = new Dictionary<string, TestUser>();
        for (var w = 0; w < 3; w++)
        {
            var owner = users[w];
            var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = faker.Company.CompanyName() }, owner.Bearer)).Workspace!;
            var wsKey = (ResourceType.Workspace, workspace.Id);
            model.Parent[wsKey] = null;
            model.Workspace[wsKey] = workspace.Id;
            model.Grants[(ResourceType.Workspace, workspace.Id, owner.UserId)] = PermissionLevel.Owner;
            ownerOf[workspace.Id] = owner;
            resources.Add(wsKey);

            // Everybody joins by invitation first (nobody can be given anything in a workspace they did not join);
            // the join grants that the random model below does not keep are revoked at the end.
            foreach (var user in users.Where(u => u != owner))
            {
                var invited = await Host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = workspace.Id, UserId = user.UserId, Level = PermissionLevel.Read }, owner.Bearer);
                await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = invited.InvitationId }, user.Bearer);
            }
            for (var b = 0; b < 2; b++)
            {
                var created = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = faker.Commerce.Department() }, owner.Bearer)).Base!;
                var baseKey = (ResourceType.Base, created.Id);
                model.Grants[(ResourceType.Base, created.Id, owner.UserId)] = PermissionLevel.Owner; // creators own what they create
                model.Parent[baseKey] = wsKey;
                model.Workspace[baseKey] = workspace.Id;
                resources.Add(baseKey);
                for (var t = 0; t < 2; t++)
                {
                    var table = Guid.NewGuid().ToString();
                    await permissions.RegisterResourceAsync(new RegisterResourceRequest { Resource = Ref(ResourceType.Table, table), Parent = Ref(ResourceType.Base, created.Id) }, owner.Bearer);
                    model.Grants[(ResourceType.Table, table, owner.UserId)] = PermissionLevel.Owner;
                    model.Parent[(ResourceType.Table, table)] = baseKey;
                    model.Workspace[(ResourceType.Table, table)] = workspace.Id;
                    resources.Add((ResourceType.Table, table));
                }
            }

            // A role in each workspace, given to a random half of the users.
            var roleLevels = new Dictionary<ResourceType, PermissionLevel>
            {
                [ResourceType.Base] = faker.PickRandom(Levels[..5]),
                [ResourceType.Table] = faker.PickRandom(Levels[..5]),
            };
            var role = (await permissions.CreateRoleAsync(new CreateRoleRequest
            {
                WorkspaceId = workspace.Id,
                Name = "role-" + w,
                Permissions = roleLevels.Select(kv => new RoleLevel { Type = kv.Key, Level = kv.Value }).ToList(),
            }, owner.Bearer)).Role!;
            model.RoleLevels[role.Id] = roleLevels;
            model.RoleWorkspace[role.Id] = workspace.Id;
            foreach (var user in users.Where(_ => faker.Random.Bool()))
            {
                await permissions.AssignRoleAsync(new AssignRoleRequest { RoleId = role.Id, UserId = user.UserId }, owner.Bearer);
                model.Assignments.Add((role.Id, user.UserId));
            }
        }

        // Random grants at every level of every tree, by each tree's owner (never touching the owner's own grant).
        foreach (var resource in resources)
        {
            var owner = ownerOf[model.Workspace[resource]];
            foreach (var user in users.Where(u => u != owner && faker.Random.Bool(0.35f)))
            {
                var level = faker.PickRandom(Levels);
                await permissions.GrantAsync(new GrantRequest { Resource = Ref(resource.Type, resource.Id), UserId = user.UserId, Level = level }, owner.Bearer);
                model.Grants[(resource.Type, resource.Id, user.UserId)] = level;
            }
        }

        foreach (var (workspaceId, owner) in ownerOf)
        {
            foreach (var user in users.Where(u => u != owner && !model.Grants.ContainsKey((ResourceType.Workspace, workspaceId, u.UserId))))
            {
                await permissions.RevokeAsync(new RevokeRequest { Resource = Ref(ResourceType.Workspace, workspaceId), UserId = user.UserId }, owner.Bearer);
            }
        }

        // Every (user, resource, level) in one batch of more than 1,000 checks, answered in request order.
        var checks = (from user in users from resource in resources from level in Levels[1..] select (user, resource, level)).ToList();
        Assert.True(checks.Count > 1000);
        var batch = await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest
        {
            Checks = checks.Select(c => new CheckItem { UserId = c.user.UserId, Resource = Ref(c.resource.Type, c.resource.Id), Level = c.level }).ToList(),
        }, admin.Bearer);
        var mismatches = new List<string>();
        for (var i = 0; i < checks.Count; i++)
        {
            var (user, resource, level) = checks[i];
            var expected = model.Effective(user.UserId, resource);
            var result = batch.Results[i];
            if (result.EffectiveLevel != expected || result.Allowed != (expected >= level))
            {
                mismatches.Add($"{user.UserId} {resource} at {level}: expected {expected}, got {result.EffectiveLevel}/{result.Allowed} ({result.Reason})");
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches.Take(20)));

        // Through the Workspace service: a base is readable exactly when the model says so; otherwise it does not exist.
        foreach (var user in users)
        {
            foreach (var resource in resources.Where(r => r.Type == ResourceType.Base))
            {
                var readable = model.Effective(user.UserId, resource) >= PermissionLevel.Read;
                if (readable)
                {
                    await Host.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = resource.Id }, user.Bearer);
                }
                else
                {
                    AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
                        await Host.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = resource.Id }, user.Bearer)), StatusCode.NotFound);
                }
            }

            // LookupResources streams exactly the tables the model says the user reads.
            var looked = new List<string>();
            await foreach (var item in permissions.LookupResourcesAsync(new LookupResourcesRequest { Type = ResourceType.Table, Level = PermissionLevel.Read }, user.Bearer))
            {
                looked.Add(item.Resource!.Id);
            }

            var expectedTables = resources.Where(r => r.Type == ResourceType.Table && model.Effective(user.UserId, r) >= PermissionLevel.Read).Select(r => r.Id).Order().ToList();
            Assert.Equal(expectedTables, looked.Order().ToList());
            Assert.Equal(looked.Order(StringComparer.Ordinal), looked); // in id order, so after_id can resume
            if (looked.Count > 1)
            {
                var resumed = new List<string>();
                await foreach (var item in permissions.LookupResourcesAsync(new LookupResourcesRequest { Type = ResourceType.Table, Level = PermissionLevel.Read, AfterId = looked[0] }, user.Bearer))
                {
                    resumed.Add(item.Resource!.Id);
                }

                Assert.Equal(looked.Skip(1), resumed);
            }
        }
    }

    [Fact]
    public async Task Revoke_IsSeenByTheNextCheck_OnAnotherHostToo_AndTokensAreHonoured()
    {
        var owner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Shared" }, owner.Bearer)).Workspace!;
        member = await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);
        var granted = await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = member.UserId, Level = PermissionLevel.Edit }, owner.Bearer);
        Assert.StartsWith("r", granted.ConsistencyToken, StringComparison.Ordinal);

        await using var second = await TestHost.StartAsync(fixture.Database.ConnectionString, o =>
            o.Settings["Redis:InstanceName"] = Host.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Redis:InstanceName"]);
        var check = new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Edit, ConsistencyToken = granted.ConsistencyToken };
        Assert.True((await second.Permissions().CheckPermissionAsync(check, member.Bearer)).Allowed);

        var revoked = await Host.Permissions().RevokeAsync(new RevokeRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = member.UserId }, owner.Bearer);
        var after = await second.Permissions().CheckPermissionAsync(check with { ConsistencyToken = revoked.ConsistencyToken }, member.Bearer);
        Assert.False(after.Allowed);
        Assert.Equal(PermissionLevel.None, after.EffectiveLevel);
        Assert.False((await second.Permissions().CheckPermissionAsync(check with { ConsistencyToken = "" }, member.Bearer)).Allowed); // and without a token
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await second.Workspaces().GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, member.Bearer)), StatusCode.NotFound);

        var bad = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CheckPermissionAsync(check with { ConsistencyToken = "yesterday" }, member.Bearer));
        AssertStatus(bad, StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task Roles_GiveLevelsByType_OnlyOwnersManageThem()
    {
        var owner = await Host.RegisterAsync();
        var user = await Host.RegisterAsync();
        var permissions = Host.Permissions();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Roles" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        var role = (await permissions.CreateRoleAsync(new CreateRoleRequest
        {
            WorkspaceId = workspace.Id, Name = "base editors", Permissions = [new RoleLevel { Type = ResourceType.Base, Level = PermissionLevel.Edit }],
        }, owner.Bearer)).Role!;

        // Roles go to members: the user joins (at read), gets the role, then loses the workspace grant, which
        // would otherwise take precedence over the role on everything in the workspace.
        user = await Host.JoinAsync(owner, user, workspace.Id, PermissionLevel.Read);
        await permissions.AssignRoleAsync(new AssignRoleRequest { RoleId = role.Id, UserId = user.UserId }, owner.Bearer);
        await permissions.RevokeAsync(new RevokeRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = user.UserId }, owner.Bearer);
        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Edit }, user.Bearer);
        Assert.True(check.Allowed, check.Reason);
        Assert.Equal("role base editors", check.Reason);
        await Host.Workspaces().RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = "Renamed by role" }, user.Bearer);
        // The role says nothing about the workspace itself.
        Assert.False((await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, user.Bearer)).Allowed);

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await permissions.CreateRoleAsync(new CreateRoleRequest
        {
            WorkspaceId = workspace.Id, Name = "mine", Permissions = [new RoleLevel { Type = ResourceType.Base, Level = PermissionLevel.Create }],
        }, user.Bearer)), StatusCode.NotFound); // the user cannot read the workspace itself
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await permissions.CreateRoleAsync(new CreateRoleRequest
        {
            WorkspaceId = workspace.Id, Name = "owners", Permissions = [new RoleLevel { Type = ResourceType.Base, Level = PermissionLevel.Owner }],
        }, owner.Bearer)), StatusCode.InvalidArgument);

        var updated = await permissions.UpdateRoleAsync(new UpdateRoleRequest
        {
            RoleId = role.Id, Name = "base readers", ReplacePermissions = true, Permissions = [new RoleLevel { Type = ResourceType.Base, Level = PermissionLevel.Read }],
        }, owner.Bearer);
        Assert.Equal("base readers", updated.Role!.Name);
        Assert.False((await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Edit }, user.Bearer)).Allowed);
        Assert.Single((await permissions.ListRolesAsync(new ListRolesRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Roles);

        await permissions.UnassignRoleAsync(new UnassignRoleRequest { RoleId = role.Id, UserId = user.UserId }, owner.Bearer);
        Assert.Equal(PermissionLevel.None, (await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Read }, user.Bearer)).EffectiveLevel);
    }

    [Fact]
    public async Task Checks_OfOtherUsers_NeedOwnership()
    {
        var owner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Who" }, owner.Bearer)).Workspace!;
        member = await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);

        var byOwner = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { UserId = member.UserId, Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, owner.Bearer);
        Assert.True(byOwner.Allowed);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { UserId = owner.UserId, Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, member.Bearer)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().BatchCheckPermissionAsync(new BatchCheckPermissionRequest
        {
            Checks = [new CheckItem { UserId = owner.UserId, Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }],
        }, member.Bearer)), StatusCode.PermissionDenied);
        var tooMany = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().BatchCheckPermissionAsync(new BatchCheckPermissionRequest
        {
            Checks = Enumerable.Range(0, 5001).Select(_ => new CheckItem { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }).ToList(),
        }, member.Bearer));
        AssertStatus(tooMany, StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task Checks_DoNotTellMissingIdsFromForbiddenOnes()
    {
        var owner = await Host.RegisterAsync();
        var outsider = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Secret" }, owner.Bearer)).Workspace!;

        var existing = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, outsider.Bearer);
        var missing = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, Guid.NewGuid().ToString()), Level = PermissionLevel.Read }, outsider.Bearer);
        Assert.Equal((existing.Allowed, existing.EffectiveLevel, existing.Reason), (missing.Allowed, missing.EffectiveLevel, missing.Reason));

        // "At least none" would be true exactly for the ids that exist: not a question one may ask.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.None }, outsider.Bearer)), StatusCode.InvalidArgument);
        await using var stream = (IAsyncDisposable)Host.Permissions().LookupResourcesAsync(new LookupResourcesRequest { Type = ResourceType.Base, Level = PermissionLevel.None }, outsider.Bearer).GetAsyncEnumerator();
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ((IAsyncEnumerator<LookupResourcesResponse>)stream).MoveNextAsync()), StatusCode.InvalidArgument);
    }
}

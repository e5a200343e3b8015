using Bogus;
using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Common;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Data;

public sealed class PaginationTests(HostFixture hostFixture) : HostTests(hostFixture)
{
    private IDiagnosticsService Service => Fixture.Host.Diagnostics;

    [Fact]
    public async Task ListItems_WalkingCursors_ReturnsEveryItemOnceWhileRowsAreInserted()
    {
        var prefix = "walk-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var faker = new Faker();
        var expected = new List<string>();
        for (var i = 0; i < 23; i++)
        {
            var name = prefix + faker.Commerce.ProductName();
            await Service.RecordEventAsync(new RecordEventRequest { Name = name });
            expected.Add(name);
        }

        var seen = new List<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = await Service.ListItemsAsync(new ListItemsRequest { Prefix = prefix, Pagination = new PaginationRequest { PageSize = 5, Cursor = cursor } });
            pages++;
            Assert.Equal(pages, page.Pagination!.CurrentPage);
            Assert.Equal(5, page.Pagination.PageSize);
            seen.AddRange(page.Items.Select(i => i.Name));
            cursor = page.Pagination.NextCursor;
            Assert.Equal(cursor is not null, page.Pagination.HasNext);
            if (pages == 2)
            {
                // Rows inserted mid-walk land after the cursor (keyset order) and are picked up, never duplicated.
                var late = prefix + "late";
                await Service.RecordEventAsync(new RecordEventRequest { Name = late });
                expected.Add(late);
            }
        }
        while (cursor is not null);

        Assert.Equal(expected, seen);
        Assert.Equal(5, pages);
    }

    [Fact]
    public async Task ListItems_PageSizeAboveMaximum_IsCapped()
    {
        var page = await Service.ListItemsAsync(new ListItemsRequest { Pagination = new PaginationRequest { PageSize = 1_000_000 } });

        Assert.Equal(100, page.Pagination!.PageSize);
    }

    [Fact]
    public async Task ListItems_TamperedCursor_IsInvalidArgumentOnTheCursorField()
    {
        var prefix = "tamper-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 3; i++)
        {
            await Service.RecordEventAsync(new RecordEventRequest { Name = prefix + i });
        }

        var first = await Service.ListItemsAsync(new ListItemsRequest { Prefix = prefix, Pagination = new PaginationRequest { PageSize = 1 } });
        var cursor = first.Pagination!.NextCursor!;
        var chars = cursor.ToCharArray();
        chars[chars.Length / 2] = chars[chars.Length / 2] == 'A' ? 'B' : 'A';

        foreach (var forged in new[] { new string(chars), "not-a-cursor", cursor + "A", Convert.ToBase64String(new byte[40]) })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await Service.ListItemsAsync(new ListItemsRequest { Prefix = prefix, Pagination = new PaginationRequest { Cursor = forged } }));

            Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
            var violation = Assert.Single(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations);
            Assert.Equal("pagination.cursor", violation.Field);
        }
    }

    [Fact]
    public async Task ListItems_CursorOfAnotherList_IsInvalidArgument()
    {
        var prefix = "scope-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 3; i++)
        {
            await Service.RecordEventAsync(new RecordEventRequest { Name = prefix + i });
        }

        var first = await Service.ListItemsAsync(new ListItemsRequest { Prefix = prefix, Pagination = new PaginationRequest { PageSize = 1 } });

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.ListItemsAsync(new ListItemsRequest { Prefix = "other", Pagination = new PaginationRequest { Cursor = first.Pagination!.NextCursor } }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
    }

    [Theory]
    [InlineData(-1, 0, "pagination.page_size")]
    [InlineData(0, -1, "pagination.page")]
    [InlineData(10, 3, "pagination.page")]
    public async Task ListItems_InvalidPagination_NamesTheField(int pageSize, int page, string field)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.ListItemsAsync(new ListItemsRequest { Pagination = new PaginationRequest { PageSize = pageSize, Page = page } }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations, v => v.Field == field);
    }
}

using System.CommandLine;
using PyAirtable.Tools;
using PyAirtable.Tools.Protos;

var root = new RootCommand("PyAirtable developer tools.")
{
    HealthCommand.Create(),
    ProtosCommand.Create(),
    OpenApiCommand.Create(),
    SeedCommand.Create(),
    BenchCommand.Create(),
    BenchPermissionsCommand.Create(),
    BenchEventsCommand.Create(),
    BenchGatewayCommand.Create(),
    BenchRestCommand.Create(),
    BenchHotPathCommand.Create(),
    BenchFilesCommand.Create(),
    BenchNotifyCommand.Create(),
    AllocationReport.Create(),
};
return await root.Parse(args).InvokeAsync();

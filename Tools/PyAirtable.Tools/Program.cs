using System.CommandLine;
using PyAirtable.Tools;

var root = new RootCommand("PyAirtable developer tools.")
{
    HealthCommand.Create(),
};
return await root.Parse(args).InvokeAsync();

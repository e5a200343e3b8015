using PyAirtable.Host;

var builder = PlatformHost.CreateBuilder(args);
var app = PlatformHost.Build(builder);
return await PlatformHost.RunAsync(app);

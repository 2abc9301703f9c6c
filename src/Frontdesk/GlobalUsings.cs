global using Frontdesk.Platform;
global using Microsoft.AspNetCore.Http.HttpResults;

Console.WriteLine("usage: bench <command>");
return 2;

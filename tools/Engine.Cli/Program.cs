return Engine.Cli.Commands.Run(args);

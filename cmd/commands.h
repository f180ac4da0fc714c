/* commands.h - one function per subcommand; each returns the exit code
 * (0 ok, 1 failure at run time, 2 bad usage). */
#ifndef GPUSCOPE_COMMANDS_H
#define GPUSCOPE_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif

#include "daemon/cli.h"

int main(int argc, char** argv) { return landfall::daemon::Main(argc, argv); }

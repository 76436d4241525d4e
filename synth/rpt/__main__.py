"""`python -m agentgym.synth.rpt`: build an RPT task file (see `agentgym.synth.rpt.build`)."""

from agentgym.synth.rpt.build import main

raise SystemExit(main())

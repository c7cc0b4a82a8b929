import { setUpMasthead } from './masthead.js';
import { fillRail } from './rail.js';

const RAIL_SIZE = 8;

async function main(): Promise<void> {
  const panel = setUpMasthead();
  const list = document.querySelector<HTMLElement>('[data-testid="recommendations"]');
  if (list === null) return;
  await fillRail(list, document.querySelector('[data-testid="rail-status"]'), RAIL_SIZE, (response) => panel.showRecommendations(response));
}

void main();

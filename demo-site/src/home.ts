import { renderRail, showVisitor } from './rail.js';

const RAIL_SIZE = 8;

async function main(): Promise<void> {
  showVisitor();
  const status = document.querySelector<HTMLElement>('[data-testid="rail-status"]');
  const list = document.querySelector<HTMLElement>('[data-testid="recommendations"]');
  if (list === null) return;
  try {
    const sdk = window.VariantLens;
    if (sdk === undefined) throw new Error('the variant-lens SDK did not load');
    const response = await sdk.getRecommendations({ limit: RAIL_SIZE });
    renderRail(list, response);
    status?.remove();
  } catch (error) {
    if (status !== null) status.textContent = `Recommendations are unavailable right now (${(error as Error).message}).`;
  }
}

void main();
